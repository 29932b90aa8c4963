"""busyhour.cli"""
