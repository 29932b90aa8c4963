"""busyhour.router"""
