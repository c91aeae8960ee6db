// The node's pause program (hack/kube-node.sh builds it); no dependencies.
module starcast.local/hack/kube/node/pause

go 1.26.0
