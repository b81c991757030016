"""API clients: REST, informers, work queues, leader election, kubeconfig."""
