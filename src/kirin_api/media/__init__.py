"""kirin_api.media"""
