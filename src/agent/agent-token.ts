/**
 * Who the agent's token says it is (a SelfSubjectReview, as `kubectl auth whoami` asks),
 * checked while the agent reads its switch, before it claims its node. A token of another
 * node would only meet 403s; one line at the start says which node it is for instead. An
 * admin token works, but hands the whole API to whoever breaks into the hypervisor: the
 * agent says so once, and how to make its node's.
 */
import type { Logger } from 'pino';
import { ANY_NODE } from '../admission/access-token.admission';
import type { ApiClient } from './api-client';

interface UserInfo {
  username?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Throws when the token is another node's agent token; warns when it is an admin's. Silent when the API cannot tell (unreachable, or too old to answer). */
export async function checkAgentToken(client: ApiClient, node: string, log: Logger): Promise<void> {
  const review = await client
    .call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
    .catch(() => undefined);
  // Unreachable, or a 401: the claim that follows retries, or says what to do with its remedy.
  if (!review || review.status !== 201) return;
  const user = (review.body?.status as { userInfo?: UserInfo } | undefined)?.userInfo;
  const who = user?.username ?? 'unknown';
  const make = `deploy/kubernetes/agent-kubeconfig.sh ADMIN_KUBECONFIG URL CA OUT agent-${node} ${node}`;
  const tokenNode = user?.extra?.['vnet.dev/node']?.[0];
  if (tokenNode !== undefined && tokenNode !== ANY_NODE && tokenNode !== node) {
    throw new Error(`the agent's token (${who}) is node ${tokenNode}'s agent token, not node ${node}'s: start the agent with --node ${tokenNode}, or give it node ${node}'s (${make})`);
  }
  if (user?.groups?.includes('system:masters')) {
    log.warn(
      { event: 'agent.admin_token', node, user: who },
      `the agent's token (${who}) is an admin token: a hypervisor broken into holds the whole API with it; an agent needs only node ${node}'s agent token (${make})`,
    );
  }
}
