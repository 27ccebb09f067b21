/*
 * sptest.h — the Serphona unit-test support library (libsptest.a, linked
 * into unit-test binaries only): JSON-path assertions that report the
 * actual value (sptest/json.h), in-process requests on a router and the
 * EXPECT macros (sptest/call.h), and fixtures over the private server stack
 * (sptest/stack.h). Include cmocka's prerequisites and <cmocka.h> first,
 * as cmocka requires.
 */
#ifndef SPTEST_H
#define SPTEST_H

#include "sptest/call.h"
#include "sptest/json.h"
#include "sptest/stack.h"

#endif
