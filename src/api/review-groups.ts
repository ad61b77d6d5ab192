/**
 * The groups of the reviews vnetd answers (access-review.controller.ts), as discovery lists
 * them: kube-apiserver's entries for the same resources, cluster-scoped and create only (a
 * review is answered, never stored). Served but not listed, `kubectl api-versions` and
 * `api-resources` missed them, and clients that probe discovery before sending a review
 * (dashboards) took them for absent (QA-134 F9). Only what vnetd serves is listed: no
 * SubjectAccessReview, LocalSubjectAccessReview or TokenReview.
 */
export interface ReviewResource {
  name: string;
  singularName: string;
  kind: string;
}

export interface ReviewGroup {
  group: string;
  version: string;
  resources: ReviewResource[];
}

export const REVIEW_GROUPS: readonly ReviewGroup[] = [
  { group: 'authentication.k8s.io', version: 'v1', resources: [{ name: 'selfsubjectreviews', singularName: 'selfsubjectreview', kind: 'SelfSubjectReview' }] },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resources: [
      { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', kind: 'SelfSubjectAccessReview' },
      { name: 'selfsubjectrulesreviews', singularName: 'selfsubjectrulesreview', kind: 'SelfSubjectRulesReview' },
    ],
  },
];

/** APIGroup, as /apis lists it and /apis/GROUP answers. */
export function reviewApiGroup(g: ReviewGroup) {
  const gv = { groupVersion: `${g.group}/${g.version}`, version: g.version };
  return { kind: 'APIGroup', apiVersion: 'v1', name: g.group, versions: [gv], preferredVersion: gv };
}

/** APIResourceList of /apis/GROUP/VERSION. */
export function reviewResourceList(g: ReviewGroup) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${g.group}/${g.version}`,
    resources: g.resources.map((r) => ({ name: r.name, singularName: r.singularName, namespaced: false, kind: r.kind, verbs: ['create'] })),
  };
}
