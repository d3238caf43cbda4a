# firstsight: PGXS build
EXTENSION = firstsight
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" firstsight.control)

MODULE_big = firstsight
SRCS = $(sort $(wildcard src/*.c src/*/*.c))
OBJS = $(SRCS:.c=.o)
FS_HEADERS = $(wildcard src/*.h src/*/*.h)

# the install script is the SQL pieces of src/sql, in name order
SQL_PIECES = $(sort $(wildcard src/sql/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard sql/upgrade/$(EXTENSION)--*--*.sql)

# one regression file per feature, run in name order: every sql/NAME.sql
# that has its expected/NAME.out (a new test runs once its output is approved)
REGRESS = $(sort $(filter $(patsubst expected/%.out,%,$(wildcard expected/*.out)),$(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# TAP tests (test/t/*.pl) are run by test/run, one prove per file
PG_CPPFLAGS = -Isrc $(BLAS_CFLAGS)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lopenblas -lcurl -lm

EXTRA_CLEAN = $(DATA_built)

# clang: PostgreSQL's headers and gcc-only CFLAGS from pg_config warn; our code does not
ifneq (,$(findstring clang,$(CC)))
PG_CFLAGS += -Wno-ignored-attributes -Wno-unknown-warning-option -Wno-ignored-optimization-argument
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_PIECES) firstsight.control
	@{ printf '%s\n' "-- $(EXTENSION) $(EXTVERSION): generated from src/sql by make; edit the pieces there" \
	   '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; \
	   for f in $(SQL_PIECES); do printf '\n-- %s\n' "$$f"; cat "$$f"; done; } > $@

$(OBJS): $(FS_HEADERS)
