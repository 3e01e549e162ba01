"""The benchmark wing: profiles, the resumable runner, aggregation and the report (Fig. 4, S10, S11)."""
