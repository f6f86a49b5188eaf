"""kirin_api.worker"""
