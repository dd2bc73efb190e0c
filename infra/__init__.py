"""CDK constructs and stacks, one construct per concern."""
