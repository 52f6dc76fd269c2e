"""The provider-contract tests (``tests/contract``) that apply to LangChain, run on its case
(``contract/providers/_langchain.py``): one client span per call saying what the result says, tool
calls, event-only content, "not given" parameters, the SDK's errors and a transport's exception passing
through as without us, our faults leaving the call untouched, instrumenting again after uninstrument,
loops, tasks and threads. See the case's docstring for the one that does not apply."""

from __future__ import annotations

from functools import partial

import pytest

from contract.providers._langchain import CASE
from contract.test_calls import (  # noqa: F401  (collected here, on the LangChain case)
    test_a_call_is_one_client_span_of_ours_with_the_results_text,
    test_a_fault_in_our_extraction_leaves_the_call_and_its_result_untouched,
    test_a_fault_in_our_request_step_skips_that_calls_span_only,
    test_a_tool_call_is_one_span_whose_output_is_the_results_tool_calls,
    test_a_transport_exception_reaches_the_user_as_the_sdk_reports_it,
    test_a_users_exception_from_the_transport_passes_through_as_the_same_object,
    test_an_sdk_error_passes_through_as_without_us_and_ends_the_span_as_error,
    test_event_only_mode_emits_one_details_log_record_and_no_span_content,
    test_not_given_omit_and_none_parameters_give_no_attribute_warnings,
)
from contract.test_concurrency import (  # noqa: F401
    test_parents_are_correct_across_a_thread_pool,
    test_parents_are_correct_across_asyncio_gather,
    test_sync_client_inside_a_running_event_loop,
)
from contract.test_instrumentation import test_instrument_again_after_uninstrument_traces_again  # noqa: F401


@pytest.fixture
def case(global_tracer_provider):
    return CASE


@pytest.fixture
def instrument_case(case, instrumentors):
    return partial(instrumentors, case.instrumentor)
