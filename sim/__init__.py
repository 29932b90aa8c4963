"""busyhour.sim"""
