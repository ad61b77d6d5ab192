/**
 * The annotation of the BOOKMARK that ends a watch's initial events (Kubernetes' watch-list,
 * metav1.InitialEventsAnnotationKey): the API sends it, the agents wait for it.
 */
export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';
