"""Domain package shared by every Lambda: data map, connectors, planning and evidence."""
