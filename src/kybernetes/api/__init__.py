"""The Kubernetes type system: schema, objects, selectors, quantities, errors. Pure, no I/O."""
