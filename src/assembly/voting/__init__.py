"""Votes, ballots, elections, majority rules and tallies."""
