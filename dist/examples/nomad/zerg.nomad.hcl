# Example, not tested by zerg's test suite.
#
# zerg serve on every Nomad client that can run it (docs/fleet.md): a system job, one
# allocation per eligible node. Each node pulls the template from the store the first time
# (--pull-from) and keeps it in its own ZERG_HOME.
#
#   nomad job run -var 'store=https://store.example/zerg' -var 'template=web' zerg.nomad.hcl
#
# What the nodes need:
# - zerg installed (the Debian package from `make deb`: /usr/bin/zerg);
# - /dev/kvm;
# - raw_exec enabled in the client configuration, since zerg needs /dev/kvm and runs its own
#   sandbox (docs/security.md): plugin "raw_exec" { config { enabled = true } };
# - meta { zerg = "true" } in the client configuration, to mark nodes with /dev/kvm (see the
#   constraint below).
# raw_exec runs the task as the Nomad client's user (root on most nodes): zerg serve's
# workers then drop to nobody in namespaces of their own.

variable "store" {
  type        = string
  description = "the store's base URL: https://..., s3://BUCKET/PREFIX or s3+https://..."
}

variable "template" {
  type    = string
  default = "web"
}

job "zerg" {
  type = "system"

  constraint {
    attribute = "${meta.zerg}"
    value     = "true"
  }

  group "serve" {
    network {
      # raw_exec uses the host's network: these are the node's own ports.
      port "http" {
        static = 8080
      }
      port "metrics" {
        static = 9100
      }
      port "agent" {
        static = 9101
      }
    }

    task "zerg-serve" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/zerg"
        args = [
          "serve",
          "--pull-from", var.store,
          "--listen", ":${NOMAD_PORT_http}=${var.template}",
          "--agent", ":${NOMAD_PORT_agent}",
          "--metrics", ":${NOMAD_PORT_metrics}",
          "--drain-timeout", "25000",
          "-q",
        ]
      }

      env {
        ZERG_HOME = "/var/lib/zerg"
        # For an s3:// store, give AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION
        # here, better from a template block reading Nomad Variables or Vault.
      }

      # SIGINT or SIGTERM makes zerg serve drain: in-flight instances finish. kill_timeout
      # is above --drain-timeout (Nomad clients cap it at max_kill_timeout, 30 s by default).
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      service {
        name     = "zerg-${var.template}"
        port     = "http"
        provider = "nomad"

        # 200 while serving, 503 once draining.
        check {
          name     = "health"
          type     = "http"
          port     = "metrics"
          path     = "/health"
          interval = "5s"
          timeout  = "2s"
        }
      }
    }
  }
}
