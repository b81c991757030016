"""NetworkPolicy (networking.k8s.io/v1) enforced in nftables on each node.

``model`` turns Pods, Namespaces and NetworkPolicies into allow rules per isolated local pod,
``table`` renders them as one nftables table, ``enforcer`` keeps that table in step with the API.

Choices (as upstream CNIs such as Calico and kube-router make them):

- Only the traffic that **crosses the node's forward path** is filtered: pod to pod on the bridge
  (seen through br_netfilter), pod to pod of another node, pod to the outside, outside to a pod
  (also after a NodePort or hostPort DNAT: rules see the translated destination and the client's
  own source). Traffic **from the node** (kubelet probes, the ingress controller, host processes
  reaching a ClusterIP or NodePort) and **to the node** (the cluster DNS server on the bridge's
  gateway) is always allowed, as the NetworkPolicy documentation prescribes for the node a pod
  runs on. Because this node's ingress controller runs on the host, Ingress traffic counts as
  node traffic.
- A pod is isolated for a direction when any policy of that type selects it; it then accepts
  only what one of those policies' rules allows (union). Replies of allowed connections pass
  (``ct state established,related``); connections open before a policy appeared keep flowing.
- IPv4 only (the table is family ``ip``); ``hostNetwork`` pods and finished pods are neither
  selected nor peers; a named port in an egress rule matches pod peers only (an ipBlock has no
  container ports to name).
"""
