"""kirin_api.net"""
