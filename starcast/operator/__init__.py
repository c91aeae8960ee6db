"""starcast.operator"""
