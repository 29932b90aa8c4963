"""busyhour.bench"""
