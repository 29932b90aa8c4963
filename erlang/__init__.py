"""busyhour.erlang"""
