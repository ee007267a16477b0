#include "mash/agent/lookup_worker.h"

namespace mash::agent {

LookupWorker::LookupWorker(size_t max_queue)
    : max_queue_(max_queue == 0 ? 1 : max_queue), thread_([this] { Run(); }) {}

LookupWorker::~LookupWorker() { Stop(); }

bool LookupWorker::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || jobs_.size() >= max_queue_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void LookupWorker::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t LookupWorker::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void LookupWorker::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
      if (stopped_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace mash::agent
