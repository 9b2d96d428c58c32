"""Read-only analytics over the activity history: burndown, velocity, flow, forecast."""
