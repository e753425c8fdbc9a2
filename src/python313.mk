# Which python3.13 builds the bundle's bytecode (src/Makefile) and the Lambda stand-in venv
# (../Makefile). PY313 given on the command line or in the environment wins (PY313= means none);
# otherwise python3.13 from PATH if it really runs (a pyenv shim may not), then the newest
# 3.13.x of pyenv's versions. Empty when there is none: the callers then say what they skip.
ifeq ($(origin PY313),undefined)
PY313 := $(shell \
	for candidate in python3.13 $$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do \
		"$$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null && break; \
	done)
endif
