"""kirin_api.store"""
