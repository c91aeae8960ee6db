"""starcast.serving"""
