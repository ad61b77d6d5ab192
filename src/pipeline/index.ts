/** The logical pipeline: compiles networks, ports and nodes into each node's br-int flows. */
export * from './tables';
export * from './fields';
export * from './model';
export * from './owners';
export * from './compiler';
export * from './load-balancer';
export { forgetLbFlows, keepLbFlowsOf, setLbFlowReuse } from './lb-flow-reuse';
export { formatPipelineFlow, formatPipelineActions } from './format';
export * from './fastpath-plan';
export * from './tunnel-probe';
export * from './rarp';
