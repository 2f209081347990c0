import { describe, expect, it } from 'vitest';
import { runStorm } from '../bench/storm';

/**
 * Issue 10's storm proof at reduced scale: 1,000 deliveries for 20 Fargate tasks (4 finding ids each, shuffled, exact
 * duplicates and rising counts, 20 at a time, Lambda's retries). 12 tasks share a cluster, so the shipped limit of 10
 * per cluster refuses 2 of them; the other 18 are admitted. No latency, no timings.
 */
describe('a storm of findings about the same tasks', () => {
  it('contains each admitted task once, loses no finding, and keeps the shipped limits', async () => {
    const storm = await runStorm({ deliveries: 1000, tasks: 20, concurrency: 20, clusterOf: (i) => (i < 12 ? 'storm-a' : 'storm-b'), limits: 'shipped' });

    // None lost: every finding id handled (its claim finished), nothing left for the failure queue.
    expect.soft(storm.failureQueue).toEqual([]);
    expect.soft(storm.claimsNotFinished).toEqual([]);
    expect.soft(storm.findingsHandled).toBe(80);

    // The shipped limits hold, counted in tasks: 10 of storm-a's 12, all 8 of storm-b's.
    const admitted = storm.perTask.filter((t) => t.stopTasks + t.denyIngress + t.denyEgress > 0);
    expect.soft(admitted.filter((t) => t.cluster === 'storm-a')).toHaveLength(10);
    expect.soft(admitted.filter((t) => t.cluster === 'storm-b')).toHaveLength(8);

    // One containment per admitted task, none doubled: one deny pair in place, then the stop the Critical rule asks for;
    // and no entry made beyond it (a direction whose rule number another isolation took is made once, elsewhere).
    for (const task of admitted) expect.soft({ task: task.task, stop: task.stopTasks, ingress: task.denyIngress, egress: task.denyEgress }).toEqual({ task: task.task, stop: 1, ingress: 1, egress: 1 });
    expect.soft(admitted.reduce((n, t) => n + t.denyCreates, 0)).toBe(2 * admitted.length);

    // Every finding is told about once at most; each task's episode at least once.
    expect.soft(storm.notifications).toBeLessThanOrEqual(80);
    expect.soft(storm.notifications).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
