// Command pause is the CRI's sandbox process: it holds a pod's namespaces until it is told
// to stop. No image registry is reachable here, so the node builds its own from this file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// Reap the orphans of the pod's PID namespace when it is shared.
	signal.Ignore(syscall.SIGCHLD)
	<-stop
}
