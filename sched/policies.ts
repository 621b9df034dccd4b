// SQL for Sched_policy, and the one call that makes a scheduling decision.
import type { Queryable } from '../schema/db.js';

export interface Policy {
  name: string;
  procedure: string;
  /** What the procedure's second argument is: a random partition, or the task's home partition. */
  partitionArg: 'random' | 'home';
  description: string;
}

export interface Decision {
  workerId: number;
  pKey: number;
}

export class PolicyError extends Error {}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export async function listPolicies(q: Queryable): Promise<Policy[]> {
  const rows = await q.rows<{ name: string; procedure_name: string; partition_arg: 'random' | 'home'; description: string }>(
    'SELECT name, procedure_name, partition_arg, description FROM Sched_policy ORDER BY name');
  return rows.map((r) => ({ name: r.name, procedure: r.procedure_name, partitionArg: r.partition_arg, description: r.description }));
}

export async function findPolicy(q: Queryable, name: string): Promise<Policy> {
  const all = await listPolicies(q);
  const p = all.find((x) => x.name === name);
  if (!p) throw new PolicyError(`unknown policy "${name}"; the policies are ${all.map((x) => x.name).join(', ')}.`);
  return p;
}

/**
 * One scheduling decision: CALL the policy's procedure (one round trip, one
 * transaction). Returns the worker the task went to, or null if it stays queued.
 */
export async function decide(q: Queryable, policy: Policy, taskId: number, partition: number): Promise<Decision | null> {
  // A procedure name cannot be a parameter; it comes from Sched_policy and must be an identifier.
  if (!IDENTIFIER.test(policy.procedure)) throw new PolicyError(`policy "${policy.name}" names an invalid procedure "${policy.procedure}".`);
  const rows = await q.call<{ worker_id: number | null; p_key: number | null }>(`CALL ${policy.procedure}(?, ?)`, [taskId, partition]);
  const r = rows[0];
  return r && r.worker_id !== null ? { workerId: Number(r.worker_id), pKey: Number(r.p_key) } : null;
}
