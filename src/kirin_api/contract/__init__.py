"""kirin_api.contract"""
