"""kirin_api.engines.preview"""
