"""What the API cannot show: node bootstrap and credentials outside the cluster.
Printed with every gate report as a checklist for a person."""

CHECKLIST = (
    ("EKS launch templates / user data",
     "bootstrap.sh --container-runtime dockerd must go (1.24 AMIs run containerd only); "
     "remove --enable-docker-bridge and --docker-config-json, which only configured Docker"),
    ("Registry credentials",
     "a Docker config.json on nodes (docker login, --docker-config-json) is not read by "
     "containerd; use imagePullSecrets or the kubelet image credential provider "
     "(ecr-credential-provider on EKS)"),
    ("Custom AMIs and node scripts",
     "scripts and cron jobs that run `docker` on nodes: move to crictl, ctr -n k8s.io or nerdctl"),
    ("Docker daemon settings",
     "registry mirrors, insecure registries, log rotation (log-opts max-size) and default runtime "
     "in /etc/docker/daemon.json move to the containerd config and the kubelet's "
     "containerLogMaxSize/containerLogMaxFiles (run the gate with --node-checks to list them)"),
    ("Docker-in-Docker builds",
     "CI pipelines that build images through the node's Docker: use kaniko, buildkit or a "
     "DinD sidecar"),
)
