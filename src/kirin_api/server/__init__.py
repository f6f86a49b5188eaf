"""kirin_api.server"""
