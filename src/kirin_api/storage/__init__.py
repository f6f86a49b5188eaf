"""kirin_api.storage"""
