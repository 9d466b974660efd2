package docker

import cerrdefs "github.com/containerd/errdefs"

func cerrdefsIsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
