"""kirin_api.client"""
