// `mash-agent review ...`: the agency custodian's commands on the review queue
// (review_queue.h, docs/agent.md). They run as their own process beside the running agent and
// read and write the same database; the agent sends what they decide.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace mash::agent {

struct ReviewCommands;

// Adds `review` with list, show, release, redact, decline and log to `app`.
std::shared_ptr<ReviewCommands> AddReviewCommands(CLI::App& app);
// True when the parsed command line chose `review`.
bool ReviewSelected(const ReviewCommands& commands);
// Runs the chosen review command. Exit codes: 0 done; 1 refused (decided already, no such item
// or category, a decline without a reason); 2 configuration or database problem.
int RunReviewCommand(const ReviewCommands& commands);

}  // namespace mash::agent
