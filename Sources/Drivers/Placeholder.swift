// Filled by the driver issues.
