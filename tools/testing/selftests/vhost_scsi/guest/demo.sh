#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo" part for vhost_scsi (called by tools/testing/vm/demo.sh in
# the test VM): the real-guest test of guest.sh, narrated, with targetcli
# views of the configuration as LUNs are unmapped, remapped and added.
exec "$(dirname "$(realpath "$0")")/guest.sh" --demo
