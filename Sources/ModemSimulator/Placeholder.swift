// Filled by the simulator issue.
