# fwtrust: the two commands.
#   make demo   install what is missing, build, run the end-to-end story
#   make check  install what is missing, build, run every test (unit, CLI,
#               ASan+UBSan, fuzz smoke, -m32 core, Cortex-M4 cross-build)
# Other targets: make build, make bench, make deb (Debian packages in build-deb/),
# make install (cmake --install; PREFIX=/usr/local, DESTDIR honoured), make fault-campaign
# (the full fault-injection campaign on the Cortex-M4 bootloader, docs/fault-injection.md),
# make clean.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build check demo bench deb install fault-campaign clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DFWT_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

check: deps
	scripts/check

demo: build
	scripts/demo

bench: build
	bench/run

deb: deps
	scripts/build-deb

PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fault-campaign: deps
	scripts/fault-campaign

clean:
	rm -rf build build-* 
