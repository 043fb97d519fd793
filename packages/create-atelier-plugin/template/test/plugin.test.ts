// PLACEHOLDER until the harness API is known
