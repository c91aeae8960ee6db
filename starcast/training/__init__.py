"""starcast.training"""
