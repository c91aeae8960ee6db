"""starcast.extraction"""
