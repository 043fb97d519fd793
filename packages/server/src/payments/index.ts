export { PaymentsService, formatPrice } from './payments.service.ts';
export type {
  CheckoutOutcome,
  HdState,
  HdView,
  PaymentRecord,
  PaymentsServiceOptions,
  Price,
  ResultFile,
} from './payments.service.ts';
export { createStripeGateway } from './stripe-gateway.ts';
export type {
  ChargeFacts,
  CheckoutRequest,
  CheckoutSession,
  PaymentEvent,
  PaymentGateway,
  SessionFacts,
  StripeGatewayOptions,
} from './stripe-gateway.ts';
