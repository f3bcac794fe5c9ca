"""Real virtual machines for kprov: the Debian 12 Vagrant box (`kprov vm box`) and the accelerator.

kprov.vm.recipe describes the box as data (packages, guest files, cache names);
kprov.vm.image turns a directory tree into a bootable disk; kprov.vm.box builds and caches
the box and registers it with Vagrant; kprov.vm.accel picks KVM or QEMU's software emulation.
"""
