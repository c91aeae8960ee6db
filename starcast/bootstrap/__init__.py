"""starcast.bootstrap"""
