import { ImageThumbnail } from "@/components/gallery/ImageThumbnail";
import type { Question } from "@/lib/client/chatTranscript";

export function QuestionBubble({ question }: { question: Question }) {
  return (
    <div className="ml-auto max-w-[85%] rounded-2xl rounded-br-sm bg-blue-600 px-4 py-2 text-white" data-testid="question">
      {question.imageIds.length > 0 && (
        <div className="mb-2 flex flex-wrap gap-1.5">
          {question.imageIds.map((id) => (
            <ImageThumbnail key={id} imageId={id} alt="Attached image" size={56} />
          ))}
        </div>
      )}
      <p className="whitespace-pre-wrap break-words">{question.text}</p>
    </div>
  );
}
