"""Quality gates, freshness and metrics: what keeps bad data out and says when data is stale."""
