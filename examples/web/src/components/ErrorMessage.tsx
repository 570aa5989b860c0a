import { headline, type AppError, type ErrorContext } from '../errors';

export function ErrorMessage({
  error,
  context,
  testId = 'error',
}: {
  error: AppError;
  context: ErrorContext;
  testId?: string;
}) {
  return (
    <div className="error" role="alert" data-testid={testId} data-code={error.code}>
      <strong>{headline(error, context)}</strong>
      <span className="error-detail">
        {error.message} <code>{error.code}</code>
      </span>
    </div>
  );
}
